"""Constructs beyond the core's calls, queues and topics, one module each, registering themselves with the
interpreter (step kinds, link kinds, receivers, samplers). Every module in this package is switched on."""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
