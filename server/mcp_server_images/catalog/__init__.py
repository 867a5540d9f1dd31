"""Models as data: what each model accepts, its lifecycle and prices, and what the provider serves.

models.toml   the shipped table (a user's file may add to or change it: MCP_IMAGES_MODELS_FILE)
spec.py       the frozen types one entry becomes
load.py       reading and checking the TOML files
checks.py     the per-request checks that run before anything is sent
catalog.py    `Catalog`, built once from settings: lookups, checks, hints, replacement chains
discovery.py  `ModelDirectory`: the provider's GET /models, cached, and the answers built on it
"""
