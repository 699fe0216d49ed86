import ArgumentParser
import TempScaleKit

/// `--prompt NAME | --prompt-text T`, as embed, collapse, spectrum and tune take them.
struct PromptOptions: ParsableArguments {
    @Option(help: "Prompt name from config_sentence_transformers.json (default: its default_prompt_name; \"\" for none).")
    var prompt: String?
    @Option(help: "Prompt text to put in front of every text (instead of a named prompt).") var promptText: String?

    func validate() throws {
        if prompt != nil && promptText != nil { throw ValidationError("give --prompt or --prompt-text, not both") }
    }

    /// The model's default prompt unless one is named or given.
    var choice: TextEmbedder.Prompt { TextEmbedder.Prompt(name: prompt, text: promptText) ?? .modelDefault }
}
