// One page of a listing, with the total, shared by the registry's and the auth store's listings
// (its own file so that neither store type file imports the other).
export interface Page<T> {
  items: T[];
  total: number;
  offset: number;
  limit: number;
}
