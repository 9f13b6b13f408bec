#!/usr/bin/env node
// The CLI is TypeScript run through tsx (a runtime dependency), in this same process so signals
// reach `quantum-gates start` directly and the exit code is the command's own.
import { register } from 'tsx/esm/api';

register();
await import('../cli/main.ts');
