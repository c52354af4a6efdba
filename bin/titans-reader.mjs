#!/usr/bin/env node
// The `titans-reader` command: runs the CLI from the TypeScript sources (through tsx), so it works
// in a fresh checkout with `npx titans-reader` and needs no build step.
import { register } from 'tsx/esm/api';

register();
await import('../core/cli/main.ts');
