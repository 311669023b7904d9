// Baseline "SDK minimal handler, root zod": sdk-app.ts with zod imported as its README shows
// (`import { z } from 'zod'`), which bundles every zod locale; reported beside the reference.
import { z } from 'zod';
import { sdkMinimal } from './sdk-app.ts';

export const { app, handler } = sdkMinimal(z.object({ text: z.string() }));
