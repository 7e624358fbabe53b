// A stand-in for anywidget's model in front-end unit tests: it records what the view sends and
// delivers the kernel's replies (`reply`) to the `msg:custom` handlers, as the comm does.
export class FakeModel {
  sent: any[] = [];
  handlers: ((msg: unknown, buffers?: DataView[]) => void)[] = [];
  send(content: unknown) {
    this.sent.push(content);
  }
  on(event: string, handler: (msg: unknown, buffers?: DataView[]) => void) {
    if (event === "msg:custom") this.handlers.push(handler);
  }
  off() {
    this.handlers = [];
  }
  reply(msg: unknown, buffers: DataView[] = []) {
    this.handlers.forEach((handler) => handler(msg, buffers));
  }
}
