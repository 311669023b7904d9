// What a call needs of tasks before the task machinery loads (shared/kit-core.ts imports it on
// first need): a new task's id, and the most of its request a task record keeps.

/**
 * The most of a request a task record keeps (its TaskRequest as JSON): a DynamoDB item holds
 * 400 KB, and every read of the task carries it. Larger calls are refused before they run.
 */
export const MAX_TASK_REQUEST_BYTES = 64 * 1024;

/** 22 characters of base64url: 128 random bits, unguessable. */
export const newTaskId = () => Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString('base64url');
