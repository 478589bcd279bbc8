#!/usr/bin/env node
// Runs the CLI from source through tsx (the workspace has no separate build step for it).
import { register } from 'tsx/esm/api';
register();
await import('../src/main.ts');
