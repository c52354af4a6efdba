import { defineConfig } from 'vitest/config';

// Two projects with the same settings: `unit` (test/unit: in-process, no SQLite file, worker,
// child process or server) and `integration` (test/integration: those). `npm run test:unit` and
// `npm run test:integration` run one each (--project); a plain `npx vitest run` runs both.
export default defineConfig({
  test: {
    environment: 'node',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores on the reference machine: run files in two forks, not more.
    pool: 'forks',
    maxWorkers: 2,
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      { extends: true, test: { name: 'integration', include: ['test/integration/**/*.test.ts'] } },
    ],
  },
});
