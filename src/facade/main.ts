/**
 * `node dist/src/facade/main.js [--ip IP] [--port PORT] [--config CONFIG]`: a course node from the ESM
 * build (the CommonJS bundle under distribution/ runs the same `main` when executed directly).
 */
import { main } from './index.js';

main(process.argv);
