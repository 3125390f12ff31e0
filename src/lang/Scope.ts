/**
 * The compile-time scope of one function: local names to frame slots, in nested blocks (each
 * `let` pushes one). A name resolves to the innermost binding; closures reach outer functions'
 * frames by depth (see compile.ts).
 */
export class Scope {
  readonly parent: Scope | undefined
  slots = 0
  private readonly blocks: Array<Map<string, number>> = [new Map()]
  constructor(parent: Scope | undefined) {
    this.parent = parent
  }
  bind(name: string): number {
    const slot = this.slots++
    this.blocks[this.blocks.length - 1]!.set(name, slot)
    return slot
  }
  lookup(name: string): number | undefined {
    for (let i = this.blocks.length - 1; i >= 0; i--) {
      const slot = this.blocks[i]!.get(name)
      if (slot !== undefined) return slot
    }
    return undefined
  }
  push() {
    this.blocks.push(new Map())
  }
  pop() {
    this.blocks.pop()
  }
  names(): Array<string> {
    return this.blocks.flatMap((b) => [...b.keys()])
  }
}
