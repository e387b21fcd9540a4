/**
 * The scout-jupyter JupyterLab extension: the "Scout datasets" sidebar and the Scout commands.
 */

import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { Clipboard, ICommandPalette, Notification } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { LabIcon } from '@jupyterlab/ui-components';

import scoutSvg from '../style/icons/scout.svg';
import { requestAPI } from './api';
import { BROWSE_CELL_SOURCE, copyCode, expiryWording } from './model';
import { insertAndRun, loadDataset, targetNotebook } from './notebook';
import { DatasetsSidebar } from './panel';
import { openPreview } from './preview';
import { publishDatasets } from './publish';
import type { IPermissions, ISignedURL } from './types';

const PLUGIN_ID = 'scout-jupyter:plugin';

export const scoutIcon = new LabIcon({
  name: 'scout-jupyter:datasets',
  svgstr: scoutSvg
});

export namespace CommandIDs {
  export const refresh = 'scout:refresh-datasets';
  export const openBrowser = 'scout:open-dataset-browser';
  export const publish = 'scout:publish';
  export const showSidebar = 'scout:show-datasets';
}

/** Every failure reaches the user once, as a notification carrying the server's message. */
function notifyError(error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  Notification.error(message, { autoClose: 10_000 });
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'The Scout datasets sidebar and commands.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ILayoutRestorer, ICommandPalette, ISettingRegistry],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null,
    settingRegistry: ISettingRegistry | null
  ) => {
    const { commands, shell } = app;
    let canPublish = false;

    const sidebar = new DatasetsSidebar(
      {
        load: id => loadDataset(app, tracker, id).catch(notifyError),
        preview: dataset => {
          const widget = openPreview(dataset, notifyError);
          shell.add(widget, 'main');
          shell.activateById(widget.id);
        },
        copyCode: id => {
          Clipboard.copyToSystem(copyCode(id));
          Notification.success(`Code that loads ${id} copied`, {
            autoClose: 4000
          });
        },
        copyURL: id => {
          requestAPI<ISignedURL>('dataset-proxy', { query: { dataset: id } })
            .then(grant => {
              Clipboard.copyToSystem(grant.signed_url);
              Notification.success(
                `Signed URL of ${id} copied: ${expiryWording(grant.expires_at, new Date())}`,
                { autoClose: 8000 }
              );
            })
            .catch(notifyError);
        }
      },
      notifyError
    );
    sidebar.title.icon = scoutIcon;
    sidebar.title.caption = 'Scout datasets';
    shell.add(sidebar, 'left', { rank: 650 });
    restorer?.add(sidebar, 'scout-datasets');

    if (settingRegistry) {
      settingRegistry
        .load(PLUGIN_ID)
        .then(settings => {
          const apply = () => {
            sidebar.refreshInterval = settings.get('refreshInterval')
              .composite as number;
          };
          apply();
          settings.changed.connect(apply);
        })
        .catch(error =>
          console.warn('scout-jupyter: settings not loaded', error)
        );
    }

    commands.addCommand(CommandIDs.refresh, {
      label: 'Scout: Refresh datasets',
      caption: 'Read the dataset list from the server again',
      execute: () => sidebar.refresh()
    });
    commands.addCommand(CommandIDs.showSidebar, {
      label: 'Scout: Show datasets',
      icon: scoutIcon,
      execute: () => shell.activateById(sidebar.id)
    });
    commands.addCommand(CommandIDs.openBrowser, {
      label: 'Scout: Open dataset browser',
      caption: 'Insert and run scout.browse() in the active notebook',
      execute: async () => {
        try {
          await insertAndRun(
            await targetNotebook(app, tracker),
            BROWSE_CELL_SOURCE
          );
        } catch (error) {
          notifyError(error);
        }
      }
    });
    commands.addCommand(CommandIDs.publish, {
      label: 'Scout: Publish…',
      caption: 'Publish Scout datasets (a server-side job)',
      isEnabled: () => canPublish,
      isVisible: () => canPublish,
      execute: async () => {
        if (sidebar.store.status !== 'ready') {
          await sidebar.store.refresh().catch(notifyError);
        }
        if (sidebar.store.status === 'ready') {
          await publishDatasets(sidebar.store.datasets, job => {
            if (job.state === 'succeeded') {
              sidebar.refresh();
            }
          });
        }
      }
    });

    if (palette) {
      for (const command of [
        CommandIDs.refresh,
        CommandIDs.openBrowser,
        CommandIDs.showSidebar
      ]) {
        palette.addItem({ command, category: 'Scout' });
      }
    }
    // "Publish…" is offered only when the server says this user may publish
    requestAPI<IPermissions>('permissions')
      .then(answer => {
        canPublish = answer.permissions.publish;
        commands.notifyCommandChanged(CommandIDs.publish);
        if (canPublish && palette) {
          palette.addItem({ command: CommandIDs.publish, category: 'Scout' });
        }
      })
      .catch(error =>
        console.warn('scout-jupyter: permissions unknown', error)
      );
  }
};

export default plugin;
