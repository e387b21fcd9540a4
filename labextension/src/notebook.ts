/**
 * Putting code into a notebook and running it: the active notebook, or a new one with a
 * Python kernel when none is open.
 */

import { JupyterFrontEnd } from '@jupyterlab/application';
import {
  INotebookTracker,
  NotebookActions,
  NotebookPanel
} from '@jupyterlab/notebook';

import { loadCellSource } from './model';

/** The notebook to write into: the current one, else a new one with the default Python kernel. */
export async function targetNotebook(
  app: JupyterFrontEnd,
  tracker: INotebookTracker
): Promise<NotebookPanel> {
  let panel = tracker.currentWidget;
  if (!panel) {
    panel = (await app.commands.execute('notebook:create-new', {
      kernelName: 'python3'
    })) as NotebookPanel;
  }
  app.shell.activateById(panel.id);
  await panel.context.ready;
  await panel.sessionContext.ready;
  return panel;
}

/** Whether the notebook's kernel has run `%load_ext scout_jupyter` (asked silently). */
export async function kernelHasScout(panel: NotebookPanel): Promise<boolean> {
  const kernel = panel.sessionContext.session?.kernel;
  if (!kernel) {
    return false;
  }
  try {
    const future = kernel.requestExecute({
      code: '',
      silent: true,
      store_history: false,
      user_expressions: {
        scout: "'scout_jupyter' in get_ipython().extension_manager.loaded"
      }
    });
    const reply = await future.done;
    const content = reply.content as {
      status: string;
      user_expressions?: Record<
        string,
        { status: string; data?: Record<string, string> }
      >;
    };
    const answer = content.user_expressions?.scout;
    return answer?.status === 'ok' && answer.data?.['text/plain'] === 'True';
  } catch {
    return false; // not an IPython kernel, or it went away: load the extension to be sure
  }
}

/**
 * Put `source` in a code cell below the active cell (or in the notebook's only, empty cell)
 * and run it.
 */
export async function insertAndRun(
  panel: NotebookPanel,
  source: string
): Promise<void> {
  const notebook = panel.content;
  const only = notebook.widgets.length === 1 ? notebook.widgets[0] : null;
  const reuse =
    only &&
    only.model.type === 'code' &&
    only.model.sharedModel.getSource().trim() === '';
  if (!reuse) {
    NotebookActions.insertBelow(notebook);
  }
  const cell = notebook.activeCell;
  if (!cell) {
    throw new Error('The notebook has no cell to write into');
  }
  if (cell.model.type !== 'code') {
    NotebookActions.changeCellType(notebook, 'code');
  }
  notebook.activeCell!.model.sharedModel.setSource(source);
  await NotebookActions.run(notebook, panel.sessionContext);
}

/** Load: `%scout load <id>` (after `%load_ext scout_jupyter` when needed), run in a notebook. */
export async function loadDataset(
  app: JupyterFrontEnd,
  tracker: INotebookTracker,
  id: string
): Promise<void> {
  const panel = await targetNotebook(app, tracker);
  await insertAndRun(panel, loadCellSource(id, await kernelHasScout(panel)));
}
