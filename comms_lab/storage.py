"""Static files in production: hashed, compressed names, including the imports between the lab page's ES modules,
so every module is served with far-future caching and a new release can never mix old and new modules."""

from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticStorage(CompressedManifestStaticFilesStorage):
    support_js_module_import_aggregation = True
