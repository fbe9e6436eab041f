// Integration tests start processes and wait on real servers: minutes, not the unit tier's seconds.
jest.setTimeout(180_000);
