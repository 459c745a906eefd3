interface ToggleProps {
  readonly checked: boolean;
  readonly label: string;
  readonly disabled?: boolean;
  readonly onChange: (checked: boolean) => void;
}

/** An on/off switch: a checkbox with the switch role, so keyboards and screen readers use it as one. */
export function Toggle(props: ToggleProps) {
  return (
    <label class="switch">
      <input
        type="checkbox"
        role="switch"
        checked={props.checked}
        disabled={props.disabled}
        aria-label={props.label}
        onChange={(event) => props.onChange((event.target as HTMLInputElement).checked)}
      />
      <span class="switch-track" aria-hidden="true" />
      <span class="switch-text">{props.checked ? 'Active' : 'Inactive'}</span>
    </label>
  );
}
