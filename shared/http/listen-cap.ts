// Ends a `subscriptions/listen` stream gracefully once it has been open for the stream cap
// (MCP_STREAM_MAX_SECONDS): the listen request's final result, then the end of the stream, so the
// client knows the subscription completed and may listen again. On Lambda an open stream holds
// an invocation; without a cap it would run into the function timeout and fail as an error.
const encoder = new TextEncoder();

export function capListenStream(response: Response, maxMs: number, id: string | number | null): Response {
  if (!response.body || !(response.headers.get('content-type') ?? '').includes('text/event-stream')) return response;
  const upstream = response.body.getReader();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let done = false;
  const finalFrame = JSON.stringify({ jsonrpc: '2.0', id, result: { resultType: 'complete', _meta: { 'io.modelcontextprotocol/subscriptionId': id } } });
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      timer = setTimeout(() => {
        if (done) return;
        done = true;
        controller.enqueue(encoder.encode(`event: message\ndata: ${finalFrame}\n\n`));
        controller.close();
        // Ends the SDK's subscription: its stream's cancel unsubscribes from the event bus.
        void upstream.cancel().catch(() => {});
      }, maxMs);
    },
    async pull(controller) {
      const { done: ended, value } = await upstream.read().catch(() => ({ done: true, value: undefined }));
      if (done) return;
      if (ended) {
        done = true;
        clearTimeout(timer);
        controller.close();
      } else if (value) controller.enqueue(value);
    },
    cancel(reason) {
      done = true;
      clearTimeout(timer);
      return upstream.cancel(reason);
    },
  });
  return new Response(body, { status: response.status, headers: response.headers });
}
