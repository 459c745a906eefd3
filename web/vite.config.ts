import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

// The server serves dist/index.html for every console page and dist/assets under /console/assets.
export default defineConfig({
  root: import.meta.dirname,
  base: '/console/',
  plugins: [preact()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    target: 'es2022',
    modulePreload: { polyfill: false },
  },
});
