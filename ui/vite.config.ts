import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

/**
 * The web UI: a static single-page app served by the API at '/' (`createApiApp({ uiDir })`).
 * `npm run build:ui` writes it to ui/dist; `npx vite --config ui/vite.config.ts` serves it in development,
 * proxying /api to a standalone server (AIRLESS_API_URL, default http://127.0.0.1:8080).
 */
export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 2000 },
  server: {
    proxy: { '/api': process.env['AIRLESS_API_URL'] ?? 'http://127.0.0.1:8080' },
  },
});
