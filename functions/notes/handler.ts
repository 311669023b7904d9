// Lambda entry for the "notes" example server.
import { lambdaHandler } from '../../shared/adapters/lambda.ts';
import notes from './server.ts';

export const handler = lambdaHandler(notes);
