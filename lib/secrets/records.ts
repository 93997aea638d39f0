/** A variable as the store holds it (Airflow's shape: key, value, description). */
export interface VariableRecord {
  key: string;
  /** The value as text (a JSON value is stored as its JSON text). */
  value: string;
  description: string | null;
}

/** A connection as the store holds it (Airflow's fields). `extra` is text: JSON of an object, usually. */
export interface ConnectionRecord {
  connectionId: string;
  connType: string;
  host: string | null;
  login: string | null;
  password: string | null;
  schema: string | null;
  port: number | null;
  extra: string | null;
  description: string | null;
}

/** The store's part that holds variables and connections (the standalone's SQLite file, memory, DynamoDB). */
export interface SecretsStore {
  /** Create or replace a variable. */
  putVariable(variable: VariableRecord): Promise<void>;
  getVariable(key: string): Promise<VariableRecord | undefined>;
  /** Every variable, by key. */
  listVariables(): Promise<VariableRecord[]>;
  /** Whether there was one to delete. */
  deleteVariable(key: string): Promise<boolean>;
  /** Create or replace a connection. */
  putConnection(connection: ConnectionRecord): Promise<void>;
  getConnection(connectionId: string): Promise<ConnectionRecord | undefined>;
  /** Every connection, by id. */
  listConnections(): Promise<ConnectionRecord[]>;
  /** Whether there was one to delete. */
  deleteConnection(connectionId: string): Promise<boolean>;
}
