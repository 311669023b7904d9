// The lean `zod` entry: the same exports as `zod` and `zod/v4` (a `z` namespace, a default), none
// of the locales. Bundles only (see external.mjs).
import * as z from './external.mjs';
export * from './external.mjs';
export { z, z as default };
