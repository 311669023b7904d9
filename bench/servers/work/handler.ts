// Lambda entry for the benchmark's "bench-work" server, built and bundled like functions/echo.
import { lambdaHandler } from '../../../shared/adapters/lambda.ts';
import work from './server.ts';

export const handler = lambdaHandler(work);
