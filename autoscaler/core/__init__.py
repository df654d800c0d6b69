"""The pure core: model, AWS limits and defaults, capacity arithmetic, key-space geometry, and the scale-up,
scale-down and lock decisions, each with its reason. Imports only core; no clock, no environment, no AWS SDK."""
