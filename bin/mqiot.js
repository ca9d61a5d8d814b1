#!/usr/bin/env node
// Runs the TypeScript sources directly through tsx, so `npx mqiot` works from a fresh clone
// after `npm ci` with no build step.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
