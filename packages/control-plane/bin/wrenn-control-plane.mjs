#!/usr/bin/env node
// The compiled control plane (npm run build: scripts/bundle.mjs); nothing is compiled at run time.
import '../dist/bin/wrenn-control-plane.mjs';
