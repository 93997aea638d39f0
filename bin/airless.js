#!/usr/bin/env node
// The airless CLI. DAG files are TypeScript: tsx compiles them (and the library) as they load.
import { register } from 'tsx/esm/api';

register();
await import('../lib/cli/main.ts');
