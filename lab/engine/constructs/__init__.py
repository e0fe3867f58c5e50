"""Constructs beyond the core's calls, queues and topics, each in its own module registering itself with the
interpreter (step kinds, link kinds, receivers, samplers). Import a new module here to switch it on."""
