#!/usr/bin/env node
// The compiled host agent (npm run build: scripts/bundle.mjs); nothing is compiled at run time.
import '../dist/bin/wrenn-agent.mjs';
