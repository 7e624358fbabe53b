// interp-widgets in JupyterLab 4 and Notebook 7: a saved widget output shows its static snapshot
// whenever the live view cannot be drawn (the kernel that made it is gone, or was never started
// since the notebook was reopened), instead of "Error displaying widget: model not found".
//
// Every interp-widgets output carries, beside the usual widget view, a static HTML snapshot and
// a marker MIME type of its own. This renderer, ranked above the widget view, draws both: the
// live view through the notebook's own widget renderer, and the snapshot, shown for as long as
// the live view has not drawn (or has lost) its root element. Like the widget renderer, it is
// used only for trusted outputs; an untrusted notebook shows the snapshot as sanitized HTML.
import type { JupyterFrontEnd, JupyterFrontEndPlugin } from "@jupyterlab/application";
import { IRenderMimeRegistry, MimeModel, RenderedHTML } from "@jupyterlab/rendermime";
import type { IRenderMime } from "@jupyterlab/rendermime-interfaces";
import { Panel, Widget } from "@lumino/widgets";

export const VIEW_MIME = "application/vnd.interp-widgets.view+json";
const WIDGET_MIME = "application/vnd.jupyter.widget-view+json";
const LIVE_ROOT = ".iw-root"; // what every interp-widgets view draws first
const NOTE =
  "Static snapshot of this view: the kernel that drew it is not running. Run the cell again for a live view.";

/** The render-mime registry of the output area holding `widget` (a notebook's own, with its widget manager). */
function outputRegistry(widget: Widget): IRenderMimeRegistry | null {
  for (let parent = widget.parent; parent; parent = parent.parent) {
    const registry = (parent as unknown as { rendermime?: IRenderMimeRegistry }).rendermime;
    if (registry && typeof registry.createRenderer === "function") return registry;
  }
  return null;
}

class LiveOrSnapshot extends Panel implements IRenderMime.IRenderer {
  private readonly note = new Widget();
  private readonly snapshot: RenderedHTML;
  private live: IRenderMime.IRenderer | null = null;
  private observer: MutationObserver | null = null;
  private model: IRenderMime.IMimeModel | null = null;
  private modelId: string | null = null; // the widget model the live view shows

  constructor(options: IRenderMime.IRendererOptions) {
    super();
    this.addClass("iw-live-or-snapshot");
    this.note.addClass("iw-snapshot-note");
    this.note.node.textContent = NOTE;
    this.note.node.style.cssText = "font-size: 0.85em; opacity: 0.75; font-style: italic; margin: 2px 0;";
    this.snapshot = new RenderedHTML({ ...options, mimeType: "text/html" });
    this.addWidget(this.note);
    this.addWidget(this.snapshot);
  }

  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    // A refreshed snapshot of the same widget (update_display) keeps its live view as it is; a
    // different widget gets a new one.
    const modelId = (model.data[WIDGET_MIME] as { model_id?: string } | undefined)?.model_id ?? null;
    if (this.live && modelId !== this.modelId) this.dropLive();
    this.modelId = modelId;
    this.model = model;
    const html = model.data["text/html"];
    if (typeof html === "string") {
      await this.snapshot.renderModel(new MimeModel({ data: { "text/html": html }, trusted: model.trusted }));
    }
    if (this.isAttached) this.startLive();
  }

  protected onAfterAttach(msg: Parameters<Panel["processMessage"]>[0]): void {
    super.onAfterAttach(msg);
    this.startLive();
  }

  protected onBeforeDetach(msg: Parameters<Panel["processMessage"]>[0]): void {
    this.observer?.disconnect();
    this.observer = null;
    super.onBeforeDetach(msg);
  }

  /** Draw the live view beside the snapshot, once the output area (and its registry) is known. */
  private startLive(): void {
    if (!this.model || !(WIDGET_MIME in this.model.data)) return this.showLive(false);
    if (!this.live) {
      const registry = outputRegistry(this);
      if (!registry || !registry.getFactory(WIDGET_MIME)) return this.showLive(false);
      this.live = registry.createRenderer(WIDGET_MIME);
      this.insertWidget(0, this.live);
      this.live.renderModel(this.model).catch((error) => console.warn("interp-widgets: live view failed", error));
    }
    if (!this.observer) {
      const live = this.live;
      this.observer = new MutationObserver(() => this.showLive(live.node.querySelector(LIVE_ROOT) !== null));
      this.observer.observe(live.node, { childList: true, subtree: true });
    }
    this.showLive(this.live.node.querySelector(LIVE_ROOT) !== null);
  }

  private dropLive(): void {
    this.observer?.disconnect();
    this.observer = null;
    this.live?.dispose();
    this.live = null;
  }

  private showLive(isLive: boolean): void {
    this.live?.setHidden(!isLive);
    this.snapshot.setHidden(isLive);
    this.note.setHidden(isLive);
    this.node.dataset.showing = isLive ? "live" : "snapshot";
  }

  dispose(): void {
    this.observer?.disconnect();
    super.dispose();
  }
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: "interp-widgets:live-or-snapshot",
  description: "Shows an interp-widgets output's static snapshot when its live view cannot be drawn.",
  autoStart: true,
  requires: [IRenderMimeRegistry],
  activate: (_app: JupyterFrontEnd, rendermime: IRenderMimeRegistry) => {
    // Ranked before the widget view (-10): lower ranks win where both MIME types are present.
    rendermime.addFactory({ safe: false, mimeTypes: [VIEW_MIME], createRenderer: (options) => new LiveOrSnapshot(options) }, -20);
  },
};

// A notebook just opened is not "modified" because its kernel started: JupyterLab writes the running
// kernel's name and language info (Python's exact version, say) into the notebook's metadata, which
// marks it dirty although the user changed nothing (the quickstart showed as modified right after
// `scripts/lab.sh` opened it). When a notebook turns dirty and nothing but those two metadata keys
// differs from what was loaded or last saved, it is marked clean again; the info is still saved with
// the next save. Duck-typed on the document widget, so it needs nothing beyond JupyterLab's shell.
const KERNEL_KEYS = ["kernelspec", "language_info"];

type Change = { name: string; newValue: unknown };
type NotebookModelLike = {
  dirty: boolean;
  toJSON(): { cells?: unknown; metadata?: Record<string, unknown> };
  stateChanged: { connect(slot: (sender: unknown, change: Change) => void): void };
};
type DocumentLike = { context?: { model?: Partial<NotebookModelLike>; ready?: Promise<void> } };

const watched = new WeakSet<object>();

/** Everything a user can change in a notebook but the kernel's own metadata, as text. */
function userContent(model: NotebookModelLike): string {
  const json = model.toJSON();
  const metadata = { ...(json.metadata ?? {}) };
  for (const key of KERNEL_KEYS) delete metadata[key];
  return JSON.stringify([json.cells ?? null, metadata]);
}

export function keepCleanOnKernelInfo(widget: unknown): void {
  const context = (widget as DocumentLike | null)?.context;
  const model = context?.model as NotebookModelLike | undefined;
  if (!model || typeof model.toJSON !== "function" || !model.stateChanged || watched.has(model)) return;
  watched.add(model);
  let clean: string | null = null; // the user content when the notebook was last clean (loaded or saved)
  const remember = () => {
    if (!model.dirty) clean = userContent(model);
  };
  void context?.ready?.then(remember);
  model.stateChanged.connect((_sender, change) => {
    if (change.name !== "dirty") return;
    if (!change.newValue) return remember();
    setTimeout(() => {
      if (model.dirty && clean !== null && userContent(model) === clean) model.dirty = false;
    }, 0);
  });
}

type ShellLike = {
  currentWidget?: unknown;
  currentChanged?: { connect(slot: (sender: unknown, args: { newValue?: unknown }) => void): void };
  widgets?: (area?: string) => Iterable<unknown>;
};

const kernelInfo: JupyterFrontEndPlugin<void> = {
  id: "interp-widgets:kernel-info-is-not-an-edit",
  description: "A notebook whose only change is the kernel info JupyterLab wrote on opening stays unmodified.",
  autoStart: true,
  activate: (app: JupyterFrontEnd) => {
    const shell = app.shell as unknown as ShellLike;
    shell.currentChanged?.connect((_sender, args) => keepCleanOnKernelInfo(args.newValue));
    void app.restored.then(() => {
      keepCleanOnKernelInfo(shell.currentWidget);
      for (const widget of shell.widgets?.("main") ?? []) keepCleanOnKernelInfo(widget);
    });
  },
};

export default [plugin, kernelInfo];
