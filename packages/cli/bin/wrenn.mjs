#!/usr/bin/env node
// The compiled CLI (npm run build: scripts/bundle.mjs); nothing is compiled at run time.
import '../dist/bin/wrenn.mjs';
