import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts'],
    environment: 'node',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores on the reference machine: run files in two forks, not more.
    pool: 'forks',
    maxWorkers: 2,
  },
});
