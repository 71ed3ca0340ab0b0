import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The dashboard of `barge serve`: built into dist/ui, served under /ui/ (src/observe/ui-assets.ts).
// Preact through Oxc's automatic JSX runtime; no plugin needed for a build without dev-server HMR.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/ui/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('../dist/ui', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    // The page's CSP allows no inline script; a one-chunk app needs no preload polyfill anyway.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    reportCompressedSize: true,
  },
});
