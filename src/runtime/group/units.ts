/**
 * How a partitioned group's units are named in the store. A group whose topics have several
 * partitions is consumed one partition at a time: each partition is a unit with its own lease,
 * cursors, delivery records and dead letters, stored under `<group>#<partition>` ("#" cannot occur
 * in a group name, and no other lease name has it). Everything that shows groups to people (the
 * admin operations, `sib groups`, dead letters) folds the units back into their group.
 */

/** The stored name of partition `partition` of `group`. */
export const unitName = (group: string, partition: number): string => `${group}#${partition}`

/** The group and partition a stored name stands for (undefined partition: a group stored whole). */
export const parseUnit = (name: string): { readonly group: string; readonly partition: number | undefined } => {
  const at = name.lastIndexOf("#")
  if (at < 0) return { group: name, partition: undefined }
  const partition = Number(name.slice(at + 1))
  return Number.isSafeInteger(partition) && partition >= 0 ? { group: name.slice(0, at), partition } : { group: name, partition: undefined }
}

/** Whether `name` is `group` itself or one of its units. */
export const isOfGroup = (name: string, group: string): boolean => name === group || (name.startsWith(`${group}#`) && parseUnit(name).group === group)
