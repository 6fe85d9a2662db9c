"""The hostile-network simulation: many real nodes, a bad network, byzantine peers.

- :mod:`bench.sim.plan`: a scenario and its seeded plan (topology, posts, partitions,
  restarts, attacks);
- :mod:`bench.sim.cluster`: the plan played on honest nodes in one process;
- :mod:`bench.sim.processes`: a smaller version on ``p2psocial node`` daemons;
- :mod:`bench.sim.byzantine`: the byzantine nodes;
- :mod:`bench.sim.meter`: bytes on the wire and CPU per node;
- :mod:`bench.sim.stages`: the figures ``make bench`` reports.

``python -m bench.sim --help`` runs one scenario on its own.
"""
