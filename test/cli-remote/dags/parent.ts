import { dag, triggerDag } from 'airless';

/** Triggers remote_greet and waits for it (trigger --wait follows both runs). */
export default dag({ dagId: 'remote_parent' }, () => {
  triggerDag('greet_child', { triggerDagId: 'remote_greet', conf: { name: 'child' }, waitForCompletion: true });
});
