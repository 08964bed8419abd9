/*
 * view-jobs.js - #/jobs: placeholder until the jobs API lands.
 */
import { fill, h } from './dom.js';

export function render(root) {
  fill(root, h('h1', {}, 'Jobs'));
  return () => {};
}
