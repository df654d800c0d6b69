"""In-memory doubles of every port, faithful where moto is not (UPDATING, ResourceInUse, UpdateShardCount limits,
shard quota, TTL), driven by a simulated clock. The tests and the simulator share them."""
