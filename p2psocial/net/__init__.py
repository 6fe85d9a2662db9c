"""The network: gossip, sync, discovery and peer exchange over libp2p (see network.py)."""
