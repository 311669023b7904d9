// Lambda entry for the "echo" example server.
import { lambdaHandler } from '../../shared/adapters/lambda.ts';
import echo from './server.ts';

export const handler = lambdaHandler(echo);
