"""Fuzzing harnesses: hostile input at every door a node has.

Each harness states one property: any input gives either a valid result or the
documented error class (a :class:`~p2psocial.errors.P2PSocialError` subclass), never
another exception, never a hang, and never a change to what is stored when the input is
refused. The doors:

- ``test_canonical_fuzz``: canonical CBOR decoding (``p2psocial.core.canonical``);
- ``test_message_fuzz``: message and body validation (``p2psocial.core.message``,
  ``p2psocial.core.bodies``), including re-signed mutations that get past the signature;
- ``test_sync_fuzz``: the sync protocol's codec and client state machine
  (``p2psocial.core.sync``) against a lying server;
- ``test_sync_stream_fuzz``: ``p2psocial.net.sync`` serving and pulling over a trio
  memory stream, with a real node behind it;
- ``test_control_fuzz``: hostile JSON lines against a real control server;
- ``test_import_fuzz``: export files read and imported into a real node.

:mod:`tests.fuzz.properties` holds the checks that both Hypothesis and atheris
(``python -m tools.fuzz``) run; :mod:`tests.fuzz.seeds` the seed corpus, from
docs/vectors.json and the factories. ``make test`` runs each harness briefly and
derandomized; ``make fuzz`` runs them with the ``fuzz`` profile (50 times as many random
examples) and then atheris for a fixed time per target.
"""
