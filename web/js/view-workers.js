/*
 * view-workers.js - #/workers: placeholder until the workers API lands.
 */
import { fill, h } from './dom.js';

export function render(root) {
  fill(root, h('h1', {}, 'Workers'));
  return () => {};
}
