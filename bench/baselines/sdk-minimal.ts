// Baseline "SDK minimal handler", the reference: sdk-app.ts with zod imported the lean way the SDK
// imports it itself (`import * as z from 'zod/v4'`), which bundles none of zod's locales.
import * as z from 'zod/v4';
import { sdkMinimal } from './sdk-app.ts';

export const { app, handler } = sdkMinimal(z.object({ text: z.string() }));
