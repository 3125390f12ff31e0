/**
 * A first-in first-out queue over an array with a moving head: O(1) push and shift without
 * `Array#shift`'s copying. Compacts when the consumed prefix dominates.
 */
export class Fifo<A> {
  private items: Array<A | undefined> = []
  private head = 0

  get length(): number {
    return this.items.length - this.head
  }

  push(item: A): void {
    this.items.push(item)
  }

  unshift(item: A): void {
    if (this.head > 0) this.items[--this.head] = item
    else this.items.unshift(item)
  }

  shift(): A | undefined {
    if (this.head >= this.items.length) return undefined
    const item = this.items[this.head]
    this.items[this.head++] = undefined
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
    return item
  }

  /** The item `i` places after the head (0 is the head). */
  at(i: number): A | undefined {
    const j = this.head + i
    return j < this.items.length ? this.items[j] : undefined
  }

  peek(): A | undefined {
    return this.head < this.items.length ? this.items[this.head] : undefined
  }
}
