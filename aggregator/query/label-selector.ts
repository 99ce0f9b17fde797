/** The label selector parser is shared with the agent (collection configs scope pods by labels). */
export {
  LabelSelectorError,
  matchesLabelSelector,
  parseLabelSelector,
  type LabelRequirement,
} from '../../shared/label-selector.ts';
