"""The model layer: providers (Anthropic, OpenAI-compatible), retries, pricing and routing.

The scripted provider used by the offline demo and end-to-end tests lives in the engine
(``autopack.engine.scripted``); the real providers here use the official SDKs.
"""
