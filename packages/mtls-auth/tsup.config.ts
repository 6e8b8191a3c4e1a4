import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts', 'adapters/express': 'src/adapters/express.ts', 'adapters/fastify': 'src/adapters/fastify.ts', 'adapters/koa': 'src/adapters/koa.ts' },
  format: ['esm'],
  target: 'node20',
  platform: 'node',
  sourcemap: true,
  clean: false,
  dts: false,
});
