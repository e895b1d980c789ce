"""Tools apart from the runtime: evaluation (`enrolld eval`) against the peer library, the
benchmarks (`enrolld bench …`), the alignment check and a private Mosquitto for the events
bench and the tests. The daemon imports nothing from here."""
