"""Developer tools, not part of a running venue: the mypyc build of the engine core, a local
cluster of one engine and N gateways on Redis, and a throwaway redis-server for tests and
benchmarks."""
