import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: { conditions: ['@harper-tls/source'] },
  ssr: { resolve: { conditions: ['@harper-tls/source'] } },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
