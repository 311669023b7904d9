// Lambda entry for the "gateway" server.
import { lambdaHandler } from '../lambda.ts';
import gateway from './server.ts';

export const handler = lambdaHandler(gateway);
