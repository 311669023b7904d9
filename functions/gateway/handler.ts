// Lambda entry for the "gateway" server.
import { lambdaHandler } from '../../shared/adapters/lambda.ts';
import gateway from './server.ts';

export const handler = lambdaHandler(gateway);
